import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

const config = configOrExit();
const app = await buildApp(config);

// On SIGTERM/SIGINT: stop accepting; polls commit the page in hand and stop, deliveries get a grace, then the store
// closes and the process exits 0. Past SHUTDOWN_TIMEOUT_SECONDS close-with-grace exits 1 (whatever is left resumes at the next start).
closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'shutting down after an unexpected error');
  else app.log.info({ signal }, 'shutting down');
  await app.close();
});

try {
  await app.listen({ port: config.port, host: config.host });
} catch (err) {
  app.log.error({ err }, 'could not listen');
  process.exit(1);
}
