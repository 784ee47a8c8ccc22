"""shopaug: sample augmentation for e-commerce search and recommendation.

Importing ``shopaug`` is cheap; heavy modules (torch, models) load on first use.
"""

from shopaug.columns import Columns
from shopaug.exceptions import DataError, ShopaugError

__version__ = "0.1.0"
__all__ = ["Columns", "DataError", "ShopaugError", "__version__"]
