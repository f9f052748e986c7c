from tempen_alerts.app import create_app
from tempen_alerts.config import AlertsSettings
from tempen_shared.logs import configure_logging
from tempen_shared.serve import build_or_exit, serve


def main() -> None:
    settings = AlertsSettings()
    configure_logging("alerts", settings.log_level)
    serve(build_or_exit(lambda: create_app(settings), service="alerts"), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
