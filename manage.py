#!/usr/bin/env python
from gaizao.cli import main

if __name__ == "__main__":
    main()
