"""Analytics: building physics, the VTT mould index and damp risk."""
