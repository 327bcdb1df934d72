"""shipsync-hscodes: HS codes and countries of origin from a CSV table keyed by SKU."""
