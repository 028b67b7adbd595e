"""Command line of the intent compiler.

    python -m include.compiler parse "TEXT" [--site SITE ...]   TMF921 intent as JSON
    python -m include.compiler convert FILE                     TS 28.312 intent as JSON
    python -m include.compiler compile FILE --out DIR           rendered KRM in DIR/<site>/

FILE is a TMF921 intent in JSON, or ``-`` for standard input. Exit status: 0 done; 2 invalid input
or configuration (the message on stderr names the field and the reason; nothing is written);
1 rendering failed (kpt's own output on stderr; nothing is written).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import api
from .config import ConfigError, Settings, load_settings
from .errors import IntentValidationError, RenderError
from .limits import MAX_JSON_BYTES

EXIT_INVALID = 2
EXIT_RENDER = 1


def _read_document(source: str) -> bytes:
    """Read at most one byte more than the limit, so a huge file is refused without reading it all."""
    try:
        if source == "-":
            data = sys.stdin.buffer.read(MAX_JSON_BYTES + 1)
        else:
            with open(source, "rb") as handle:
                data = handle.read(MAX_JSON_BYTES + 1)
    except OSError as exc:
        raise IntentValidationError.single(
            "FILE", f"cannot read {source}: {exc.strerror}", stage="convert"
        ) from None
    if len(data) > MAX_JSON_BYTES:
        raise IntentValidationError.single(
            "intent", f"is larger than the limit of {MAX_JSON_BYTES} bytes", stage="convert"
        )
    return data


def _print_json(document: Any) -> None:
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _sites(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [site.strip() for value in values for site in value.split(",") if site.strip()]


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "parse":
        _print_json(api.parse(args.text, settings, sites=_sites(args.site)).to_json())
    elif args.command == "convert":
        _print_json(api.to_28312(_read_document(args.file), settings).to_json())
    else:
        rendered = api.compile_to_dir(_read_document(args.file), Path(args.out), settings)
        for site, directory in rendered.sites.items():
            files = sorted(path.name for path in directory.iterdir())
            print(f"{site}: {directory} ({len(files)} files: {', '.join(files)})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m include.compiler",
        description="Compile network intents: natural language -> TMF921 v5 -> TS 28.312 -> KRM (kpt).",
    )
    parser.add_argument(
        "--sites-file", help="site catalogue (default: $EDGE_INTENT_SITES or config/sites.yaml)"
    )
    parser.add_argument(
        "--config", help="compiler settings (default: $EDGE_INTENT_COMPILER_CONFIG or config/compiler.yaml)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    parse = commands.add_parser("parse", help="natural language to a TMF921 intent (JSON on stdout)")
    parse.add_argument("text", help="the intent in words")
    parse.add_argument(
        "--site", action="append", help="target site(s), overriding the text; repeat or use commas"
    )
    convert = commands.add_parser("convert", help="TMF921 intent to a TS 28.312 intent (JSON on stdout)")
    convert.add_argument("file", metavar="FILE", help="TMF921 intent JSON, or - for stdin")
    compile_ = commands.add_parser("compile", help="TMF921 intent to rendered KRM packages, one per site")
    compile_.add_argument("file", metavar="FILE", help="TMF921 intent JSON, or - for stdin")
    compile_.add_argument("--out", required=True, metavar="DIR", help="output directory; writes DIR/<site>/")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.sites_file, args.config)
        return _run(args, settings)
    except IntentValidationError as exc:
        print(f"error: invalid intent ({exc.stage} stage)", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error.field}: {error.reason}", file=sys.stderr)
        return EXIT_INVALID
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except RenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RENDER
