from tempen_portal.app import create_app
from tempen_portal.config import PortalSettings
from tempen_shared.logs import configure_logging
from tempen_shared.serve import build_or_exit, serve


def main() -> None:
    settings = PortalSettings()  # required fields come from the environment
    configure_logging("portal", settings.log_level)
    serve(build_or_exit(lambda: create_app(settings), service="portal"), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
