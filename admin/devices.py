"""Administration: devices. Register kiosks and hall displays, pair each with the code on
its screen, choose a kiosk's printer and print a test page, revoke; admins only.

The domain is tessera.devices (registry: the devices; pairing: the codes; printer_check:
the test page); these routes check the permission, read the form, call it, and flash.
"""

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length

from admin import blueprint, render_admin, require
from tessera.clock import local_time
from tessera.devices.pairing import confirm_screen_code, get_device
from tessera.devices.printer_check import enqueue_test_print, test_print_outcome
from tessera.devices.registry import (
    change_device,
    device_name,
    list_devices,
    printer_settings,
    register_device,
    reinstate_device,
    revoke_device,
)
from tessera.errors import TesseraError
from tessera.models import DeviceKind
from tessera.printing.jobs import print_queue
from tessera.sites.catalogue import get_site
from tessera.sites.loader import PRINTER_SETTINGS
from tessera.staff.permissions import Action
from tessera.stores import stores

# The domain's names of the printer settings (its errors name them), and the form's fields.
PRINTER_FIELDS = {"printer.type": "printer_type", "printer.path": "path",
                  "printer.preview": "preview", "printer.host": "host", "printer.port": "port",
                  "printer.vendor_id": "vendor_id", "printer.product_id": "product_id",
                  "printer.device": "device", "printer.baudrate": "baudrate",
                  "printer.name": "printer_name", "printer.profile": "profile"}


class PrinterFields(FlaskForm):
    """A kiosk's printer: its type, then the settings of that type (SCHEMA.md, `kiosks`)."""

    printer_type = SelectField(lazy_gettext("Printer"), default="", choices=[
        ("", lazy_gettext("No printer: tickets on the screen only")),
        *[(kind, kind) for kind in PRINTER_SETTINGS]])
    path = StringField(lazy_gettext("File printer: path in the instance folder"),
                       validators=[Length(max=200)])
    preview = BooleanField(lazy_gettext("File printer: also draw each ticket as a picture"))
    host = StringField(lazy_gettext("Network printer: host"), validators=[Length(max=200)])
    port = StringField(lazy_gettext("Network printer: port (default 9100)"),
                       validators=[Length(max=5)])
    vendor_id = StringField(lazy_gettext("USB printer: vendor id"), validators=[Length(max=10)])
    product_id = StringField(lazy_gettext("USB printer: product id"),
                             validators=[Length(max=10)])
    device = StringField(lazy_gettext("Serial printer: device"), validators=[Length(max=200)])
    baudrate = StringField(lazy_gettext("Serial printer: speed in baud (default 9600)"),
                           validators=[Length(max=7)])
    printer_name = StringField(lazy_gettext("CUPS printer: queue name"),
                               validators=[Length(max=200)])
    profile = StringField(lazy_gettext("Printer profile (python-escpos), such as TM-T88III"),
                          validators=[Length(max=100)])

    def printer_values(self) -> dict:
        """The printer settings as typed, by the names the domain and site file use."""
        return {setting.removeprefix("printer."): getattr(self, field).data
                for setting, field in PRINTER_FIELDS.items()}

    def fill_printer(self, printer: dict) -> None:
        """Show a kiosk's current printer settings in the fields."""
        for setting, field in PRINTER_FIELDS.items():
            value = printer.get(setting.removeprefix("printer."))
            if value is not None:
                getattr(self, field).data = value if field == "preview" else str(value)


class DeviceForm(PrinterFields):
    """Register a device: its key, name and kind, and a kiosk's printer."""

    key = StringField(lazy_gettext("Key (in its address, such as entrance)"),
                      validators=[Length(max=64)])
    name = StringField(lazy_gettext("Name"), validators=[Length(max=100)])
    kind = SelectField(lazy_gettext("Kind"), default=DeviceKind.KIOSK.value, choices=[
        (DeviceKind.KIOSK.value, lazy_gettext("Kiosk")),
        (DeviceKind.DISPLAY.value, lazy_gettext("Hall display"))])


class ChangeForm(PrinterFields):
    """Rename a device; choose a kiosk's printer."""

    name = StringField(lazy_gettext("Name"), validators=[Length(max=100)])


class PairForm(FlaskForm):
    """The code the device shows on its screen."""

    code = StringField(lazy_gettext("Code on the device's screen"),
                       validators=[Length(max=20)])


class ActionForm(FlaskForm):
    """A button that changes something (revoke, put back, test print): only its CSRF token."""


def _refused(form: FlaskForm, error: TesseraError) -> None:
    """Put a domain refusal next to the field it names, else above the form."""
    field = error.details.get("field")
    name = PRINTER_FIELDS.get(field, field)
    if name and hasattr(form, name):
        getattr(form, name).errors = [*getattr(form, name).errors, error.message]
    else:
        form.form_errors.append(error.message)


def _printer(form: PrinterFields, kind: str) -> dict | None:
    return printer_settings(form.printer_values()) if kind == DeviceKind.KIOSK else None


@blueprint.get("/devices")
@login_required
def device_list():
    """Every kiosk and display: paired or not, last contact, printer and its status."""
    require(Action.MANAGE_DEVICES)
    return _list_page()


def _list_page(pair_errors: dict | None = None, status: int = 200):
    """The list, with a pairing form per device (and its error, after a wrong code)."""
    site_id = current_user.site_id
    with stores().database.session() as session:
        timezone = get_site(session, site_id).timezone
        devices = list_devices(session, site_id, stores().live.printer_statuses(site_id))
    test = None
    if request.args.get("test"):
        test = {"kiosk": request.args.get("kiosk", ""),
                **test_print_outcome(stores().redis, request.args["test"])}
    return render_admin("admin/devices.html", devices=devices, test=test,
                        pair_errors=pair_errors or {},
                        local=lambda moment: local_time(moment, timezone)
                        .strftime("%Y-%m-%d %H:%M") if moment else None), status


@blueprint.route("/devices/new", methods=["GET", "POST"])
@login_required
def device_new():
    """Register a kiosk or a hall display; it then shows a code to pair it with."""
    require(Action.MANAGE_DEVICES)
    form = DeviceForm()
    if form.validate_on_submit():
        try:
            with stores().database.session() as session:
                register_device(session, current_user.site_id, form.key.data, form.name.data,
                                form.kind.data, _printer(form, form.kind.data) or {},
                                stores().engine.clock(), current_user.id)
        except TesseraError as error:
            _refused(form, error)
        else:
            flash(_("Device %(key)s registered. Open it at its address: it shows a code to "
                    "pair it with.", key=form.key.data.strip()), "success")
            return redirect(url_for("admin.device_list"))
    return render_admin("admin/device_form.html", form=form, device=None), \
        422 if request.method == "POST" else 200


@blueprint.route("/devices/<key>", methods=["GET", "POST"])
@login_required
def device_edit(key):
    """Rename a device; choose a kiosk's printer."""
    require(Action.MANAGE_DEVICES)
    with stores().database.session() as session:
        device = get_device(session, current_user.site_id, key)
        kind, name = device.kind, device_name(device)
        printer = dict((device.settings or {}).get("printer") or {})
    form = ChangeForm()
    if request.method == "GET":
        form.name.data = name
        form.fill_printer(printer)
    elif form.validate_on_submit():
        try:
            with stores().database.session() as session:
                change_device(session, current_user.site_id, key, form.name.data,
                              _printer(form, kind), stores().engine.clock(), current_user.id)
        except TesseraError as error:
            _refused(form, error)
        else:
            flash(_("Device %(key)s saved.", key=key), "success")
            return redirect(url_for("admin.device_list"))
    return render_admin("admin/device_form.html", form=form,
                        device={"key": key, "kind": kind}), \
        422 if request.method == "POST" else 200


@blueprint.post("/devices/<key>/pair")
@login_required
def device_pair(key):
    """Pair the device with the device whose screen shows the code typed."""
    require(Action.MANAGE_DEVICES)
    form = PairForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        with stores().database.session() as session:
            confirm_screen_code(session, stores().redis, current_user.site_id, key,
                                form.code.data or "", stores().engine.clock(), current_user.id)
    except TesseraError as error:
        if error.status == 404:
            raise
        return _list_page({key: error.message}, 422)
    flash(_("Device %(key)s is paired: its screen opens within a few seconds.", key=key),
          "success")
    return redirect(url_for("admin.device_list"))


@blueprint.post("/devices/<key>/revoke")
@login_required
def device_revoke(key):
    """Revoke a device: its secret stops working at once."""
    return _act(key, revoke_device, _("Device %(key)s is revoked: it can no longer print "
                                      "or show anything until it is put back and paired."))


@blueprint.post("/devices/<key>/reinstate")
@login_required
def device_reinstate(key):
    """Put a revoked device back in service (it must then be paired)."""
    return _act(key, reinstate_device, _("Device %(key)s is back in service: pair it with "
                                         "the code on its screen."))


def _act(key: str, change, done: str):
    """One button's change of a device, then back to the list with what happened."""
    require(Action.MANAGE_DEVICES)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with stores().database.session() as session:
            change(session, current_user.site_id, key, stores().engine.clock(),
                   current_user.id)
    except TesseraError as error:
        if error.status == 404:
            raise
        flash(error.message, "error")
    else:
        flash(done % {"key": key}, "success")
    return redirect(url_for("admin.device_list"))


@blueprint.post("/devices/<key>/test-print")
@login_required
def device_test_print(key):
    """Send a test page to a kiosk's printer through the print worker."""
    require(Action.MANAGE_DEVICES)
    if not ActionForm().validate_on_submit():
        abort(400)
    with stores().database.session() as session:
        device = get_device(session, current_user.site_id, key)
        printable = (device.kind == DeviceKind.KIOSK and device.active
                     and (device.settings or {}).get("printer"))
    if not printable:
        flash(_("Only a kiosk in service with a printer can print a test page."), "error")
        return redirect(url_for("admin.device_list"))
    job_id = enqueue_test_print(print_queue(stores().redis), current_user.site_id, key)
    return redirect(url_for("admin.device_list", test=job_id, kiosk=key))
