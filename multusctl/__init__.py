"""multusctl: the Multus CNI meta-plugin, its node installer and tools, in Python."""

__version__ = "0.1.0"
