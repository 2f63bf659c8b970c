"""Demo logins: random passwords generated once per installation and kept in a 0600 file.

The file lives in TRIALDESK_HOME so `make run` prints the same logins every time, and
nothing in the repository (or in a published image) holds a usable password.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "demo-credentials.txt"
# No look-alike characters (0/O, 1/l/I), so the printed passwords can be typed.
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_HEADER = "# Trialdesk demo logins for this installation (demo mode only). Columns: username, password, role.\n"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


def credentials_path(home: Path) -> Path:
    return Path(home) / FILE_NAME


def password_generate() -> str:
    """Three groups of five: 83 bits, passes Django's password validators."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(3))


def credentials_read(path: Path) -> dict[str, DemoLogin]:
    """username -> login, from a file written by credentials_ensure; {} when there is none."""
    path = Path(path)
    if not path.exists():
        return {}
    logins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"{path}: malformed line {line!r}; delete the file to generate new demo logins")
        logins[parts[0]] = DemoLogin(*parts)
    return logins


def credentials_ensure(path: Path, wanted: list[tuple[str, str]]) -> dict[str, DemoLogin]:
    """Logins for (username, role) pairs: kept from the file, generated (and saved 0600) when missing."""
    path = Path(path)
    known = credentials_read(path)
    logins = {}
    for username, role in wanted:
        old = known.get(username)
        logins[username] = DemoLogin(username, old.password if old else password_generate(), role)
    if logins != {u: known.get(u) for u in logins}:
        _write_private(path, _HEADER + "".join(f"{x.username}\t{x.password}\t{x.role}\n" for x in logins.values()))
    elif path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return logins


def _write_private(path: Path, text: str) -> None:
    """Write via a 0600 temporary file and rename, so the passwords are never world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
