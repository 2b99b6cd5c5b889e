console.log('main of skippre');
