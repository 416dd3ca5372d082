"""Visualisation: static plots (`interp.viz.plots`), offline interactive views (`interp.viz.views`) and Datashader
atlases (`interp.viz.atlas`)."""
