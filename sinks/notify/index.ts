// notify's entry, as `kubetrail sink notify` loads it: the definition from KUBETRAIL_NOTIFY_*
// (notify.ts has the sink; a missing webhook URL is a configuration error here, at start-up).
import { notifyFromEnv } from './notify.js';

export default notifyFromEnv();
