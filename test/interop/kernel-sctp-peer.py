#!/usr/bin/python3
# A Linux kernel SCTP peer for test/interop/kernel-sctp.test.ts, run inside the User-mode Linux
# guest (its root is the host's file system, so Debian's python3 is there). The guest's SCTP
# uses UDP encapsulation (RFC 6951) through the sysctls net.sctp.udp_port/encap_port that
# rsplib-host.ts sets, so this is the kernel's stack talking to ours over UDP 9899.
#
#   kernel-sctp-peer.py server ADDRESS PORT           echo every message (same PPID, same stream)
#   kernel-sctp-peer.py client ADDRESS PORT SPEC...   send SPEC = SIZE:PPID:STREAM, expect echoes;
#                                                      SPEC = sleep:SECONDS waits
#
# Payloads follow one pattern (byte i of a message of seed s is (s + 31 i) mod 256, s = its
# PPID), so each side checks the other's bytes without shipping them. One line per event on
# stdout, flushed: "RECV len ppid stream ok|bad", "SENT ...", "ECHO ...", "EOF", "ERROR ...".
# PPIDs cross the sockets API in network byte order (RFC 6458 §5.3.4), hence the "!I".
import socket
import struct
import sys
import time

IPPROTO_SCTP = 132
SCTP_SNDINFO = 2  # cmsg type (RFC 6458 §5.3.4)
SCTP_RCVINFO = 3  # cmsg type (RFC 6458 §5.3.5)
SCTP_RECVRCVINFO = 32  # socket option (RFC 6458 §8.1.29)
SCTP_NODELAY = 3
MSG_EOR = 0x80


def say(*words):
    print(*words, flush=True)


def pattern(size, seed):
    return bytes((seed + 31 * i) % 256 for i in range(size))


def family_of(address):
    return socket.AF_INET6 if ':' in address else socket.AF_INET


def open_socket(address):
    s = socket.socket(family_of(address), socket.SOCK_STREAM, IPPROTO_SCTP)
    s.setsockopt(IPPROTO_SCTP, SCTP_RECVRCVINFO, 1)
    s.setsockopt(IPPROTO_SCTP, SCTP_NODELAY, 1)
    return s


def receive(s):
    """One whole user message: (payload, ppid, stream), or None at the end of the association."""
    parts = []
    ppid = stream = 0
    while True:
        data, ancdata, flags, _ = s.recvmsg(65536, socket.CMSG_SPACE(64))
        if not data and not parts:
            return None
        for level, kind, info in ancdata:
            if level == IPPROTO_SCTP and kind == SCTP_RCVINFO and len(info) >= 12:
                stream = struct.unpack_from('=H', info, 0)[0]
                ppid = struct.unpack_from('!I', info, 8)[0]
        parts.append(data)
        if flags & MSG_EOR:
            return b''.join(parts), ppid, stream


def send(s, payload, ppid, stream):
    info = struct.pack('=HH', stream, 0) + struct.pack('!I', ppid) + struct.pack('=Ii', 0, 0)
    s.sendmsg([payload], [(IPPROTO_SCTP, SCTP_SNDINFO, info)])


def serve(address, port):
    listener = open_socket(address)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, port))
    listener.listen(4)
    say('LISTENING', port)
    while True:
        conn, peer = listener.accept()
        say('ACCEPT', peer[0], peer[1])
        conn.setsockopt(IPPROTO_SCTP, SCTP_NODELAY, 1)
        while True:
            try:
                got = receive(conn)
            except OSError as e:
                say('ERROR', e)
                break
            if got is None:
                say('EOF')
                break
            payload, ppid, stream = got
            ok = payload == pattern(len(payload), ppid)
            say('RECV', len(payload), ppid, stream, 'ok' if ok else 'bad')
            send(conn, payload, ppid, stream)
        conn.close()


def client(address, port, specs):
    s = open_socket(address)
    s.settimeout(20)
    s.connect((address, port))
    say('CONNECTED', address, port)
    for spec in specs:
        if spec.startswith('sleep:'):
            time.sleep(float(spec[6:]))
            continue
        size, ppid, stream = (int(x) for x in spec.split(':'))
        send(s, pattern(size, ppid), ppid, stream)
        say('SENT', size, ppid, stream)
        got = receive(s)
        if got is None:
            say('ERROR closed before the echo')
            return 1
        payload, rppid, rstream = got
        ok = payload == pattern(size, ppid)
        say('ECHO', len(payload), rppid, rstream, 'ok' if ok else 'bad')
    # Graceful SHUTDOWN (RFC 9260 §9.2) on close, after the peer has what we sent.
    s.close()
    say('CLOSED')
    time.sleep(0.5)
    return 0


if __name__ == '__main__':
    role, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        if role == 'server':
            serve(address, port)
        else:
            sys.exit(client(address, port, sys.argv[4:]))
    except Exception as e:  # reported to the test, which shows the log
        say('ERROR', type(e).__name__, e)
        sys.exit(2)
