"""The Home Assistant glue of each pillar, one package per pillar.

``wot`` glues the Web of Things library, ``trackers`` the GPS tracker gateway. A pillar's
package never imports another pillar's package (``tests/test_architecture.py`` enforces it);
what they share sits beside them (``flow.py``) or at the top of the integration.
"""
