"""`logo db serve`: a local web page to browse the database, query it by drawing, and solve.

    logo db serve runs/db.sqlite
    logo db serve runs/db.sqlite --ckpt runs/ckpt --port 8080

Pages: the overview (counts by source, growth over time, the library drawn; it refreshes while `train`
and `dream` write the database), browse (filters by source, token length, program text, time added;
sorted by newest, shortest or most equivalents), each entry (its programs, its nearest entries, the
DreamCoder task it draws), query by an uploaded image or a drawing (the nearest entries, and a Solve
button that searches for N seconds with a chosen proposer; the model proposers need --ckpt) and a
playground (type a program, see it drawn). The database is only read. The server listens on 127.0.0.1
(this machine only) unless --host says otherwise.
"""
from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import sys

from logo.cli_errors import float_range, int_range


def register(db_sub) -> None:
    """Add `serve` to the `logo db` subcommands (`db_sub`: the group's subparsers, from `data.cli`)."""
    p = db_sub.add_parser("serve", help="a local web page to browse, query by drawing, and solve",
                          description=__doc__.split("\n")[0], epilog="\n".join(__doc__.split("\n")[1:]))
    p.add_argument("db", help="database file (opened read-only)")
    p.add_argument("--ckpt", help="checkpoint directory: offer the model proposers on the Solve button")
    p.add_argument("--port", type=int_range(0, 65535), default=8000, help="TCP port (default 8000; 0 = any free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 = every interface)")
    p.add_argument("--device", default="auto", help="torch device of the model: auto, cpu, cuda (default auto)")
    p.add_argument("--max-solve-seconds", type=float_range(0, 3600, lo_open=True), default=60.0,
                   help="longest search a Solve request may ask for (default 60)")
    p.add_argument("--quiet", action="store_true", help="do not log every request")
    p.set_defaults(func=serve_command)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket (bound here, so that a refusal is our one-line error, not the server's)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def serve_command(args) -> int:
    from werkzeug.serving import make_server
    from dream.search.proposer import resolve_device
    from dream.search.solver import SolveError
    from .web.server import close_app, create_app
    try:
        app = create_app(args.db, ckpt=args.ckpt, device=resolve_device(args.device),
                         max_solve_s=args.max_solve_seconds)
    except SolveError as e:
        print(f"logo db serve: {e}", file=sys.stderr)
        return 1
    try:
        sock = listen(args.host, args.port)
    except OSError as e:
        close_app(app)
        why = "the port is in use (choose another with --port)" if e.errno == errno.EADDRINUSE else \
            e.strerror or str(e)
        print(f"logo db serve: cannot listen on {args.host}:{args.port}: {why}", file=sys.stderr)
        return 1
    with sock:
        server = make_server(args.host, args.port, app, threaded=True, fd=sock.fileno())
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    state = app.extensions["logo_serve"]
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in str(host) else host
    print(f"logo db serve: {state.db.path} ({state.counts().entries} entries, read-only) at http://{shown}:{port}/"
          + (f" with checkpoint {args.ckpt}" if args.ckpt else "") + "  (Ctrl-C stops)", flush=True)
    if not is_loopback(args.host):
        print(f"logo db serve: listening on {args.host}, not only on this machine: anyone who can reach it can "
              "read the database and run searches", flush=True)
    import signal
    # Ctrl-C stops the server even when it was started with SIGINT ignored (a shell's `cmd &`, which Python keeps)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        close_app(app)
    return 0
