"""Write a raw disk whose boot sector prints a message on the serial port (COM1) and halts.

A real (if tiny) guest for boot_check tests: SeaBIOS loads it like any disk, so the whole path -
libvirt, QEMU, the serial log virtlogd writes, the screenshot - is exercised in seconds instead of
the minutes a Linux guest takes under TCG.

    serial_bootsector.py DISK MESSAGE
"""

import sys

# x86 real mode, loaded at 0x7c00:
#   xor ax,ax / mov ds,ax / cld / mov si,0x7c17 / mov dx,0x3f8
#   next: lodsb / test al,al / jz halt / out dx,al / jmp next
#   halt: cli / hlt / jmp halt
#   0x7c17: the message, NUL-terminated
CODE = bytes.fromhex("31c08ed8fc be177c baf803 ac84c07403eeebf8 faf4ebfc")
assert len(CODE) == 0x17


def main(path, message):
    text = message.encode("ascii").decode("unicode_escape").encode("latin-1") + b"\0"
    sector = CODE + text
    if len(sector) > 510:
        sys.exit("message too long for one boot sector")
    sector += b"\0" * (510 - len(sector)) + b"\x55\xaa"
    with open(path, "wb") as fh:
        fh.write(sector)
        fh.truncate(1024 * 1024)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
