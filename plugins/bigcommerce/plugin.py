"""Hook implementations of the BigCommerce plugin."""
