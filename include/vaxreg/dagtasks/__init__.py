"""The one thin layer between Airflow and the domain: every Asset (:mod:`.assets`), the task
defaults and failure notifiers (:mod:`.defaults`, :mod:`.notify`), and the task factories the DAG
files wire together (:mod:`.feed`). DAG files import only this layer; each task imports the domain
when it runs, so parsing a DAG file stays cheap."""
