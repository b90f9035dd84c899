"""``python -m coupongen``: the same command line as ``coupongen``."""

from coupongen.cli import main

if __name__ == "__main__":
    main()
