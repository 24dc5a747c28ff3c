// Ink renders only the last frame when CI is set; the console tests need every frame.
delete process.env.CI;
delete process.env.DREAMOS_HOME;
delete process.env.DREAMOS_AGENT_ID;
// `dreamos init` gives agents a driver it finds on the machine (an agent CLI, an API key, Ollama):
// the suite's workspaces are the same everywhere, with shell agents (tests of init pass --driver).
process.env.DREAMOS_INIT_DRIVER = 'shell';
// The console's notifications are wrapped for tmux inside it, and ctrl-e opens the developer's
// editor: the suite sees the same bytes and the same editor everywhere (tests set them).
delete process.env.TMUX;
delete process.env.VISUAL;
delete process.env.EDITOR;
