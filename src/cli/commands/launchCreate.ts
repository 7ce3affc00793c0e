/**
 * `medledger launch create`: an EHR launch context for a practitioner, as `POST /auth/launch`
 * makes for the EHR's signed-in user; for an EHR integration without its own user tokens, and
 * for trying an app's EHR launch by hand. Prints the `launch` value and the app URL to open.
 * The context only names the patient: access is still decided per request.
 */
import { authEndpoints } from '../../access/accessTokensFor.ts';
import { createLaunchContext, LAUNCH_LIFETIME_SECONDS } from '../../access/launchContexts.ts';
import { findUser } from '../../access/users.ts';
import { ConfigError } from '../../errors/MedledgerError.ts';
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';

export const launchCreateCommand: Command = {
  name: ['launch', 'create'],
  summary: 'create an EHR launch context (patient, encounter) for a practitioner',
  usage: 'medledger launch create --user USERNAME --patient ID [--encounter ID] [--app-url URL] [--json]',
  options: {
    ...nodeOptions,
    user: { type: 'string' },
    patient: { type: 'string' },
    encounter: { type: 'string' },
    'app-url': { type: 'string' },
  },
  workers: false,
  async run(ctx, { values }) {
    if (typeof values.user !== 'string' || typeof values.patient !== 'string')
      throw new ConfigError('--user and --patient are required');
    const user = await findUser(ctx.db, values.user);
    if (user?.role !== 'practitioner' && user?.role !== 'officer')
      throw new ConfigError(`--user ${values.user} is not an enabled practitioner or officer`);
    const launch = await createLaunchContext(ctx.db, {
      username: user.username,
      patient: values.patient,
      encounter: typeof values.encounter === 'string' ? values.encounter : undefined,
    });
    const iss = authEndpoints(ctx.config.publicUrl).fhirBaseUrl;
    let appUrl: string | undefined;
    if (typeof values['app-url'] === 'string') {
      if (!URL.canParse(values['app-url'])) throw new ConfigError('--app-url must be an absolute URL');
      const url = new URL(values['app-url']);
      url.searchParams.set('iss', iss);
      url.searchParams.set('launch', launch);
      appUrl = url.toString();
    }
    const json = {
      launch,
      iss,
      expires_in: LAUNCH_LIFETIME_SECONDS,
      ...(appUrl === undefined ? {} : { app_url: appUrl }),
    };
    const text = `launch ${launch} for ${user.username} on Patient/${values.patient} (valid ${LAUNCH_LIFETIME_SECONDS / 60} minutes)${
      appUrl === undefined ? `\niss ${iss}` : `\nopen ${appUrl}`
    }`;
    return { exitCode: 0, json, text };
  },
};
