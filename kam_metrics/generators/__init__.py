"""Export generators: the demo export with the programme's stories (`demo`) and benchmark exports (`scale`)."""
