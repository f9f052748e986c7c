from tempen_alerts.app import create_app
from tempen_alerts.config import AlertsSettings
from tempen_shared.logs import configure_logging
from tempen_shared.serve import serve


def main() -> None:
    settings = AlertsSettings()
    configure_logging("alerts", settings.log_level)
    serve(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
