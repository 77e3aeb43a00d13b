"""Appointments: availability per service (slots), holding, booking, cancelling and moving."""
