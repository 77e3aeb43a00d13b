"""Who may see which part of a site's reports."""

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tessera.errors import Forbidden
from tessera.models import Role, Staff


def report_scope(session: Session, staff_id: int, site_id: str) -> set[int] | None:
    """The organisations whose services `staff_id` may report on: None means all of them.

    Managers and admins of the site see everything; other staff of the site see their
    own organisations' services only; anyone else is refused.
    """
    staff = session.scalars(select(Staff).where(Staff.id == staff_id)
                            .options(selectinload(Staff.organisations))).first()
    if staff is None or staff.site_id != site_id:
        raise Forbidden(_("Only staff of this site may see its reports."), "forbidden")
    if staff.role in (Role.MANAGER, Role.ADMIN):
        return None
    organisations = {organisation.id for organisation in staff.organisations}
    if not organisations:
        raise Forbidden(_("Reports show your organisation's services, and you have none."),
                        "forbidden")
    return organisations
