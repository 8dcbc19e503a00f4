"""python -m chorus_sandbox --port 8787 [--data file.json]"""

import argparse
import json
import logging

from .server import SandboxServer, load_default_data
from .state import SandboxState


def main(argv=None):
    parser = argparse.ArgumentParser(description="Local Chorus Pro (PISTE) sandbox")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback by default)")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--data", help="JSON seed data (default: the bundled demo data)")
    parser.add_argument("--flux-delay", type=float, default=10.0, help="seconds before a flux is processed")
    parser.add_argument("--status-step", type=float, default=60.0, help="seconds between automatic status steps")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.data:
        with open(args.data, encoding="utf-8") as handle:
            data = json.load(handle)
    else:
        data = load_default_data()
    state = SandboxState(data, flux_delay=args.flux_delay, status_step=args.status_step)
    server = SandboxServer((args.host, args.port), state)
    logging.getLogger("chorus_sandbox").info("Chorus Pro sandbox on %s (token: %s/api/oauth/token)",
                                             server.url, server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
