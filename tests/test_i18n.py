"""The Chinese catalogue is complete: every msgid in the code has a translation."""

import re
import shutil
import subprocess
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gaizao"
PO = PACKAGE / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def msgids(po_text: str) -> dict[str, str]:
    entries = {}
    for block in po_text.split("\n\n"):
        if "#, fuzzy" in block and 'msgid ""\nmsgstr ""\n"Project' not in block:
            entries[_joined(block, "msgid")] = ""  # fuzzy counts as untranslated
            continue
        msgid = _joined(block, "msgid")
        if msgid:
            entries[msgid] = _joined(block, "msgstr") or _joined(block, r"msgstr\[0\]")
    return entries


def _joined(block: str, keyword: str) -> str:
    match = re.search(rf'^{keyword} "(.*)"\n?((?:".*"\n?)*)', block, re.M)
    if not match:
        return ""
    return match.group(1) + "".join(re.findall(r'^"(.*)"$', match.group(2), re.M))


def test_every_message_is_translated():
    untranslated = [m for m, t in msgids(PO.read_text(encoding="utf-8")).items() if not t]
    assert untranslated == []


def test_catalogue_holds_every_message_in_the_code(tmp_path):
    copy = tmp_path / "gaizao"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("data", "__pycache__", "*.mo"))
    (copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po").unlink()
    gaizao = PACKAGE.parent / ".venv" / "bin" / "gaizao"
    run = subprocess.run([str(gaizao), "makemessages", "-l", "zh_Hans", "--no-location", "-v0"], cwd=copy,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    in_code = set(msgids((copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")))
    in_catalogue = set(msgids(PO.read_text(encoding="utf-8")))
    assert sorted(in_code - in_catalogue) == []
