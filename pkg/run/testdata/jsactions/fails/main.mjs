import * as core from '@actions/core';

try {
  core.getInput('missing', { required: true });
  core.info('not reached');
} catch (err) {
  core.setFailed(err.message);
}
