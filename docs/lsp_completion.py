"""Ask a TOML language server what it completes at a place in a manifest, as an editor would.

    python docs/lsp_completion.py "tombi lsp" samples/lighthouse/comic.toml 47 0
    python docs/lsp_completion.py "taplo lsp stdio" my-comic/comic.toml 12 0

LINE and CHARACTER count from 0, as in the language server protocol. Prints one completion
per line: its label and the first line of its documentation. docs/editor.md was captured
with it.
"""

from __future__ import annotations

import argparse
import json
import queue
import shlex
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

WAIT = 30.0  # seconds an answer may take
SETTLE = 2.0  # seconds for the server to load the schema after the file is opened


class Server:
    """A language server on stdin/stdout, speaking JSON-RPC with Content-Length headers."""

    def __init__(self, command: str):
        self.process = subprocess.Popen(shlex.split(command), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = 0
            while (header := stream.readline().decode().strip()):
                name, _, value = header.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if not length:
                return
            self.messages.put(json.loads(stream.read(length)))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        stdin.flush()

    def call(self, number: int, method: str, params: dict[str, Any]) -> Any:
        """Send a request and wait for its answer; the server's own requests get null."""
        self.send({"id": number, "method": method, "params": params})
        while True:
            message = self.messages.get(timeout=WAIT)
            if message.get("id") == number and "method" not in message:
                return message.get("result")
            if "method" in message and "id" in message:
                items = message.get("params", {}).get("items")
                self.send({"id": message["id"],
                            "result": [None] * len(items) if items else None})

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def completions(command: str, manifest: Path, line: int, character: int) -> list[tuple[str, str]]:
    """(label, first line of documentation) of each completion the server offers."""
    uri = manifest.resolve().as_uri()
    root = manifest.resolve().parent.as_uri()
    server = Server(command)
    try:
        server.call(1, "initialize", {
            "processId": None, "rootUri": root,
            "workspaceFolders": [{"uri": root, "name": manifest.parent.name}],
            "capabilities": {"textDocument": {"completion": {
                "completionItem": {"snippetSupport": True}}}},
        })
        server.send({"method": "initialized", "params": {}})
        server.send({"method": "textDocument/didOpen", "params": {
            "textDocument": {"uri": uri, "languageId": "toml", "version": 1,
                             "text": manifest.read_text(encoding="utf-8")}}})
        time.sleep(SETTLE)
        answer = server.call(2, "textDocument/completion", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
    finally:
        server.close()
    items = answer.get("items", []) if isinstance(answer, dict) else answer or []
    return [(item["label"], _first_line(item.get("documentation"))) for item in items]


def _first_line(documentation: str | dict[str, str] | None) -> str:
    if isinstance(documentation, dict):
        documentation = documentation.get("value")
    return (documentation or "").split("\n")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("server", help='the server command, e.g. "tombi lsp"')
    parser.add_argument("manifest", type=Path)
    parser.add_argument("line", type=int)
    parser.add_argument("character", type=int)
    args = parser.parse_args()
    for label, documentation in completions(args.server, args.manifest, args.line,
                                            args.character):
        print(f"{label:<12} {documentation}".rstrip())


if __name__ == "__main__":
    main()
