"""Flask extensions, created once and bound to an app in the factory."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_socketio import SocketIO
from flask_wtf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)
login_manager = LoginManager()
# Threading mode with simple-websocket: no monkey patching, works under gunicorn --threads.
socketio = SocketIO(async_mode="threading")
