// Command h2k-vcsim runs govmomi's vCenter simulator for hyper2kvm.migrate's tests.
//
// It builds a vCenter inventory with simulator.VPX(), serves it over TLS on a loopback address and
// writes a small JSON "ready file" once the SDK answers. SIGTERM or SIGINT stop it and remove the
// datastore directories it created. Built offline by scripts/setup-vcsim.sh (GOPATH mode).
//
// The login password is read from the environment (VCSIM_PASSWORD), never from the command line.
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"log"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

type options struct {
	listen, cert, key, datastoreDir, readyFile, username                 string
	vms, standaloneHosts, clusters, clusterHosts, datastores, portgroups int
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.listen, "listen", "127.0.0.1:0", "loopback address and port to serve on (port 0 picks a free one)")
	flag.StringVar(&o.cert, "tls-cert", "", "PEM certificate for the server (required)")
	flag.StringVar(&o.key, "tls-key", "", "PEM private key of the certificate (required)")
	flag.StringVar(&o.datastoreDir, "datastore-dir", "", "directory under which datastore folders are created (default: $TMPDIR)")
	flag.StringVar(&o.readyFile, "ready-file", "", "write {url, host, port, pid} as JSON here once serving")
	flag.StringVar(&o.username, "username", "user", "login user name; the password comes from $VCSIM_PASSWORD")
	flag.IntVar(&o.vms, "vm", 2, "virtual machines per resource pool and per standalone host")
	flag.IntVar(&o.standaloneHosts, "standalone-host", 0, "standalone hosts per datacenter")
	flag.IntVar(&o.clusters, "cluster", 1, "clusters per datacenter")
	flag.IntVar(&o.clusterHosts, "cluster-host", 3, "hosts per cluster")
	flag.IntVar(&o.datastores, "ds", 1, "local datastores")
	flag.IntVar(&o.portgroups, "pg", 1, "distributed port groups per datacenter")
	flag.Parse()
	return o
}

// loopbackOnly refuses any address that is not 127.0.0.1 or ::1: the simulator accepts any login
// and serves its datastores without checking the session.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing to listen on %q: only loopback addresses are allowed", host)
	}
	return nil
}

func writeReadyFile(path string, u *url.URL) error {
	port := u.Port()
	data, err := json.Marshal(map[string]interface{}{
		"url": u.String(), "host": u.Hostname(), "port": port, "pid": os.Getpid(),
	})
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := ioutil.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func run(o options) error {
	if o.cert == "" || o.key == "" {
		return fmt.Errorf("-tls-cert and -tls-key are required")
	}
	if err := loopbackOnly(o.listen); err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(o.cert, o.key)
	if err != nil {
		return fmt.Errorf("loading the TLS certificate: %v", err)
	}
	if o.datastoreDir != "" {
		// The simulator makes each datastore with ioutil.TempDir("", ...): point it at our folder.
		if err := os.MkdirAll(o.datastoreDir, 0o700); err != nil {
			return err
		}
		os.Setenv("TMPDIR", o.datastoreDir)
	}

	model := simulator.VPX()
	model.Machine = o.vms
	model.Host = o.standaloneHosts
	model.Cluster = o.clusters
	model.ClusterHost = o.clusterHosts
	model.Datastore = o.datastores
	model.Portgroup = o.portgroups
	if err := model.Create(); err != nil {
		return fmt.Errorf("creating the inventory: %v", err)
	}
	defer model.Remove()

	login := simulator.DefaultLogin
	if password := os.Getenv("VCSIM_PASSWORD"); password != "" {
		login = url.UserPassword(o.username, password)
	}
	model.Service.Listen = &url.URL{Host: o.listen, User: login}
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	server := model.Service.NewServer()
	defer server.Close()

	public := *server.URL
	public.User = nil
	if o.readyFile != "" {
		if err := writeReadyFile(o.readyFile, &public); err != nil {
			return fmt.Errorf("writing the ready file: %v", err)
		}
		defer os.Remove(o.readyFile)
	}
	fmt.Println(public.String())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	return nil
}

func main() {
	log.SetPrefix(filepath.Base(os.Args[0]) + ": ")
	if err := run(parseFlags()); err != nil {
		log.Fatal(err)
	}
}
