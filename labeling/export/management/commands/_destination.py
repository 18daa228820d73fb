"""The --out file of the export commands (a leading underscore: Django does not take this module
for a command). A bad path is a CommandError that names it, never a traceback, and a file only
appears once the export is complete: it is written beside the destination and renamed into place,
so a failure half-way leaves neither a partial file nor a truncated earlier export. A device or a
pipe (``/dev/stdout``) cannot be renamed onto and is written in place."""
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import CommandError


def destination_problem(path: Path) -> str | None:
    """Why ``path`` cannot receive the export, or None; checked before the export starts."""
    folder = path.parent
    if path.is_dir():
        return f"is a folder; give a file name in it, e.g. {path / 'export'}"
    if not folder.exists():
        return f"the folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK) and not path.exists():
        return f"the folder {folder} is not writable"
    return None


def _written_in_place(path: Path, target: Path) -> bool:
    """A device, a pipe or a descriptor (/dev/stdout, /dev/fd/3, /proc/self/fd/1, a FIFO): a
    rename would replace the name, not write to what is open behind it."""
    special = ("/dev/", "/proc/")
    if os.path.abspath(path).startswith(special) or str(target).startswith(special):
        return True
    return path.exists() and not path.is_file()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def export_file(out: str, mode: str, **open_args):
    """An open file to write the export to; it becomes ``out`` when the block ends without error."""
    problem = destination_problem(Path(out))
    if problem:
        raise CommandError(f"--out {out}: {problem}.")
    target = Path(os.path.realpath(out))  # a link keeps pointing where it did; its target gets the file
    try:
        if _written_in_place(Path(out), target):
            with open(out, mode, **open_args) as handle:
                yield handle
            return
        fd, part = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise CommandError(f"--out {out}: cannot write it ({exc.strerror or exc}).") from exc
    try:
        with os.fdopen(fd, mode, **open_args) as handle:
            yield handle
        # What open() would have left: an earlier export's permissions, else a new file's.
        os.chmod(part, target.stat().st_mode & 0o777 if target.is_file() else 0o666 & ~_current_umask())
        os.replace(part, target)
    except OSError as exc:
        raise CommandError(f"--out {out}: cannot write it ({exc.strerror or exc}).") from exc
    finally:
        if os.path.exists(part):
            os.unlink(part)
