from streamer.cli import app

app(prog_name="streamer")
