"""The scores each paper reports, one ``<paper>.yaml`` per paper, read by :mod:`zoo.reports.report`."""
