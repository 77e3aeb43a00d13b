"""Printed tickets: their content, ESC/POS printers, complex-script layout, print jobs."""
