"""The web chat (Gradio). `qa serve` runs it; `ui.format` holds its pure formatting."""
