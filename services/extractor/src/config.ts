import { z } from 'zod';
import { FAULT_RE } from '@stock-mlops/extract/extractor';
import { ProviderEnv } from '@stock-mlops/extract/provider_settings';

/** Extractor settings (environment variables; see docs/raw-topics.md): the providers' and a test-only fault. */
export const ExtractorEnv = ProviderEnv.extend({
  EXTRACT_FAULT: z.string().regex(FAULT_RE, 'crash-after-publishing:YYYY-MM-DD (tests only)').optional(),
});
