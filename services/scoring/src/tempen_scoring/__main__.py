from tempen_scoring.app import create_app
from tempen_scoring.config import ScoringSettings
from tempen_shared.logs import configure_logging
from tempen_shared.serve import serve


def main() -> None:
    settings = ScoringSettings()
    configure_logging("scoring", settings.log_level)
    serve(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
