"""``python -m cs231n_lib.datasets fetch|verify|publish|where``: the TA's command line.

Exit status 0 on success; 1 with ONE line ``error: ...`` on stderr for any failure
(nothing half-installed is left behind); 2 for a usage error; 130 when interrupted
(a partial download is kept and the next run resumes it).
"""

import argparse
import pathlib
import sys

from .cifar10 import CIFAR10, FOLDER_NAME, Expectations
from .errors import DatasetError, describe_os_error
from .fetch import check_checksums, choose_source, fetch_cifar10
from .locate import (COURSE_ENV_VAR, DATA_ENV_VAR, DEFAULT_COURSE_DIR, batches_folder_in,
                     find_cifar10, repo_datasets_dir, search_order)
from .publish import publish
from .verify import verify_folder


def _info(message):
    """Progress notes go to stderr so stdout carries only results."""
    print(message, file=sys.stderr, flush=True)


def _expected_counts(text):
    """'20,30,10,3' -> Expectations(20, 30, 10, 3); for tests on a small archive in the real format."""
    try:
        values = [int(part) for part in text.split(",")]
        if len(values) == 4 and min(values) > 0:
            return Expectations(*values)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        "expected TRAIN_ROWS_PER_BATCH,TEST_ROWS,TRAIN_PER_CLASS,TEST_PER_CLASS, e.g. 10000,10000,5000,1000")


def _add_expectations_option(parser):
    # Hidden on purpose: a TA never needs it, tests do (a small archive in the real format).
    parser.add_argument("--expected-counts", type=_expected_counts, default=CIFAR10,
                        help=argparse.SUPPRESS)


def _add_source_options(parser):
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--mirror", metavar="URL", help="download from this URL instead of the "
                       "official site (needs --sha256 or --md5)")
    group.add_argument("--archive", metavar="PATH", type=pathlib.Path,
                       help="install from this local cifar-10-python.tar.gz (needs --sha256 or --md5)")
    parser.add_argument("--sha256", metavar="HEX", help="SHA-256 of the mirror's or archive's file")
    parser.add_argument("--md5", metavar="HEX", help="MD5 of the mirror's or archive's file")
    parser.add_argument("--no-checksum", action="store_true",
                        help="accept a mirror/archive without a checksum (warns; content is still verified)")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m cs231n_lib.datasets",
        description="Fetch, verify and publish CIFAR-10 for the course.",
        epilog=f"Loaders look in ${DATA_ENV_VAR}, then ${COURSE_ENV_VAR} (default "
               f"{DEFAULT_COURSE_DIR}), then {repo_datasets_dir()}, then the datasets/ folders above it.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fetch = commands.add_parser("fetch", help="download, check and install a data set")
    fetch.add_argument("dataset", choices=["cifar10"])
    fetch.add_argument("--dest", type=pathlib.Path, default=repo_datasets_dir(),
                       help=f"folder that will hold {FOLDER_NAME}/ (default: %(default)s)")
    _add_source_options(fetch)
    fetch.add_argument("--keep-archive", action="store_true",
                       help="keep the downloaded tar.gz in --dest after installing")
    fetch.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                       help="seconds a connect or read may stall (default: %(default)s)")
    fetch.add_argument("--retries", type=int, default=5, metavar="N",
                       help="attempts in a row without progress before giving up (default: %(default)s)")
    fetch.add_argument("--retry-wait", type=float, default=1.0, metavar="SECONDS",
                       help="first pause between attempts, doubled each time (default: %(default)s)")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_expectations_option(fetch)

    verify = commands.add_parser("verify", help="check an installed CIFAR-10")
    verify.add_argument("--dest", type=pathlib.Path, default=None,
                        help=f"folder holding {FOLDER_NAME}/ (default: where the loaders look)")
    _add_expectations_option(verify)

    publish_cmd = commands.add_parser("publish", help="install a read-only, verified copy for a class")
    publish_cmd.add_argument("--to", type=pathlib.Path, required=True,
                             help=f"shared course folder; gets {FOLDER_NAME}/ (students: ${COURSE_ENV_VAR})")
    publish_cmd.add_argument("--from", dest="source_folder", type=pathlib.Path, default=None,
                             help="an existing install to copy (default: where the loaders look)")
    _add_source_options(publish_cmd)
    _add_expectations_option(publish_cmd)

    commands.add_parser("where", help="print the folder the loaders use and the search order")
    return parser


def _run_fetch(args):
    source = choose_source(mirror=args.mirror, archive=args.archive, sha256=args.sha256,
                           md5=args.md5, no_checksum=args.no_checksum)
    report = fetch_cifar10(args.dest, source, keep_archive=args.keep_archive,
                           timeout=args.timeout, retries=args.retries,
                           retry_wait=args.retry_wait, progress=not args.quiet,
                           expectations=args.expected_counts, say=_info)
    print(report.folder)


def _run_verify(args):
    folder = find_cifar10(args.dest) if args.dest is not None else find_cifar10()
    print(verify_folder(folder, args.expected_counts))


def _run_publish(args):
    if args.archive is not None or args.mirror is not None:
        if args.mirror is not None:
            raise DatasetError("publish takes --archive PATH or --from DIR; download first with "
                               "fetch --mirror, then publish --from that install")
        if args.source_folder is not None:
            raise DatasetError("give either --archive or --from, not both")
        source = choose_source(archive=args.archive, sha256=args.sha256, md5=args.md5,
                               no_checksum=args.no_checksum)
        if not source.archive.is_file():
            raise DatasetError(f"--archive {source.archive} does not exist or is not a file")
        check_checksums(source.archive, source, _info)
        report = publish(args.to, archive=source.archive, expectations=args.expected_counts,
                         say=_info)
    else:
        if args.sha256 or args.md5 or args.no_checksum:
            raise DatasetError("--sha256/--md5/--no-checksum go with --archive")
        folder = find_cifar10(args.source_folder)
        report = publish(args.to, source_folder=folder, source_label=str(folder),
                         expectations=args.expected_counts, say=_info)
    print(report.folder)


def _run_where(_args):
    for label, place in search_order():
        found = batches_folder_in(place)
        _info(f"  {label:<24} {place}  {'<- has CIFAR-10' if found else '(none)'}")
    print(find_cifar10())


RUNNERS = {"fetch": _run_fetch, "verify": _run_verify, "publish": _run_publish, "where": _run_where}


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        RUNNERS[args.command](args)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        # A local failure not foreseen above still gets one line, not a traceback.
        print(f"error: {describe_os_error(error, args.command)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; a partial download (*.part) is kept and the same command "
              "resumes it", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
