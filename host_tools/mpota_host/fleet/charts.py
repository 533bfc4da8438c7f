# SPDX-License-Identifier: MIT
"""Charts drawn on the server as SVG by pygal (docs/FLEET.md says why):
the page needs no script and no third-party code is served."""

import time

import pygal
from pygal.style import Style

_STYLE = Style(background="white", plot_background="white", font_family="sans-serif",
               colors=("#2e7d32", "#1565c0", "#90caf9", "#c62828", "#ef6c00", "#6d4c41"))


def _config(**kw):
    # js=[]: pygal would otherwise link its tooltip script from the network.
    return dict(style=_STYLE, js=[], disable_xml_declaration=True, width=720, height=300,
                legend_at_bottom=True, legend_at_bottom_columns=6, print_values=False,
                truncate_label=-1, truncate_legend=-1,
                explicit_size=True, **kw)


def waves(fig):
    """Stacked bars, one per wave: where its devices are."""
    c = pygal.StackedBar(**_config(title="Plan {}: devices per wave".format(fig["id"])))
    c.x_labels = [w["name"] for w in fig["waves"]]
    for key, label in (("confirmed", "confirmed"), ("on_trial", "on trial"),
                       ("downloaded_only", "downloaded"), ("rolled_back", "rolled back"),
                       ("refused", "refused"), ("silent", "silent")):
        c.add(label, [w.get(key, 0) if key != "downloaded_only" else
                      max(0, w["downloaded"] - w["on_trial"] - w["confirmed"] - w["rolled_back"])
                      for w in fig["waves"]])
    return c.render(is_unicode=True)


def versions(rows):
    c = pygal.Bar(**_config(title="Versions running", show_legend=False))
    c.x_labels = ["v{}".format(r["version"]) if r["version"] is not None else "never reported"
                  for r in rows]
    c.add("devices", [r["devices"] for r in rows])
    return c.render(is_unicode=True)


def trend(series):
    c = pygal.Line(**_config(title="Outcomes per hour, last 24 h", x_label_rotation=0,
                             show_minor_x_labels=False))
    c.x_labels = [time.strftime("%H:00", time.gmtime(s["hour"])) for s in series]
    c.x_labels_major = c.x_labels[::4]
    for k in ("confirmed", "rolled-back", "refused"):
        c.add(k, [s[k] for s in series])
    return c.render(is_unicode=True)
