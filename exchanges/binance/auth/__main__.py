"""``python -m exchanges.binance.auth``: the signature-debugging command (see ``cli``)."""

import sys

from exchanges.binance.auth.cli import main

sys.exit(main())
