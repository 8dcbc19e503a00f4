"""The EN 16931 validator's own process (run by tools/en16931.py, never imported by Odoo).

Saxon (saxonche, a native image) reserves tens of GB of address space when it starts: inside an Odoo worker,
whose address space Odoo limits (limit_memory_hard), it cannot start. Here the soft limit is raised to the hard
one first. Protocol on stdin/stdout: a request is a 4-byte big-endian length, then a JSON object {"stylesheet":
path, "xml": text}; the reply is framed the same way, {"svrl": text} or {"error": text}. One line "ready" is not
sent: the first reply says the compilation worked.
"""

import json
import resource
import struct
import sys


def read_frame(stream):
    header = stream.read(4)
    if len(header) < 4:
        return None
    size = struct.unpack(">I", header)[0]
    data = stream.read(size)
    if len(data) < size:
        return None
    return json.loads(data.decode("utf-8"))


def write_frame(stream, payload):
    data = json.dumps(payload).encode("utf-8")
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def main():
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    from saxonche import PySaxonProcessor  # noqa: PLC0415 - only once the address space may grow

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    with PySaxonProcessor(license=False) as processor:
        compiled = {}
        while True:
            request = read_frame(stdin)
            if request is None:
                return
            try:
                stylesheet = request["stylesheet"]
                if stylesheet not in compiled:
                    compiled[stylesheet] = processor.new_xslt30_processor().compile_stylesheet(
                        stylesheet_file=stylesheet)
                document = processor.parse_xml(xml_text=request["xml"])
                write_frame(stdout, {"svrl": compiled[stylesheet].transform_to_string(xdm_node=document)})
            except Exception as error:  # noqa: BLE001 - said to the caller, which decides
                write_frame(stdout, {"error": "%s: %s" % (error.__class__.__name__, error)})


if __name__ == "__main__":
    main()
