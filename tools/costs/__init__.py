"""Estimation: prices and catalogs (dated data files), epochs, VRAM, GPU time, and every path's cost side by side."""
