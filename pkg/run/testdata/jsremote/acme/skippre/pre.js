console.log('pre of skippre ran');
