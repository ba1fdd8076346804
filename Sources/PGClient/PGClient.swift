@_exported import PGWire
