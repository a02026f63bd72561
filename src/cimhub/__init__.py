"""cimhub: an IEC 61968-100 / 61968-9 integration hub with a meter data management core."""

__version__ = "0.1.0"
