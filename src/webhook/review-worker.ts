// Parses AdmissionReviews off the controller's event loop: a pod in a review can be megabytes of JSON
// (big env, many containers), and parsing and validating it on the loop would stall every watch,
// status write and kubelet API call for that long. Only what the routing decision reads goes back.
import { parentPort } from 'node:worker_threads';
import { describeError } from '../util/errors.ts';
import { parseAdmissionReview, projectForDecision } from './admission.ts';

export interface ReviewJob {
  id: number;
  body: ArrayBuffer;
}

export type ReviewResult =
  | { id: number; ok: true; request: ReturnType<typeof projectForDecision> }
  | { id: number; ok: false; message: string };

parentPort?.on('message', (job: ReviewJob) => {
  let result: ReviewResult;
  try {
    const request = parseAdmissionReview(JSON.parse(Buffer.from(job.body).toString('utf8')));
    result = { id: job.id, ok: true, request: projectForDecision(request) };
  } catch (err) {
    result = { id: job.id, ok: false, message: describeError(err) };
  }
  parentPort?.postMessage(result);
});
