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
    if len(argv) > 1 and "-" in argv[1] and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
