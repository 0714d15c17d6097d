"""`atp db` placeholder."""

import typer

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
