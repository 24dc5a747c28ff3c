// Ink renders only the last frame when CI is set; the console tests need every frame.
delete process.env.CI;
delete process.env.DREAMOS_HOME;
delete process.env.DREAMOS_AGENT_ID;
