"""The `gaizao` console script: manage.py with the settings preset.

Our own commands are spelled with hyphens (`gaizao load-regions`); Django finds
commands by module name, so hyphens are mapped to underscores when such a
command exists.
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gaizao.settings")
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "gaizao"
    command_at = 2 if len(argv) > 2 and argv[1] == "help" else 1
    if len(argv) > command_at and "-" in argv[command_at] and not argv[command_at].startswith("-"):
        argv[command_at] = argv[command_at].replace("-", "_")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
